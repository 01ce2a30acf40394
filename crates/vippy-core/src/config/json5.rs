//! A small JSON5 reader that remembers where every value came from, so a
//! validation error can say `vips[2][1].ip at 9:40` and not just "invalid".
//!
//! It accepts what the original vippy's files use (single-quoted strings,
//! numbers written as strings) and the rest of JSON5: comments, trailing
//! commas, unquoted keys, hex numbers, leading/trailing decimal points,
//! `+`, `Infinity` and `NaN`. Strict JSON is a subset. Depth is bounded so
//! hostile input cannot overflow the stack.

use std::fmt;

/// Line and column (both from 1, columns counted in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    pub line: u32,
    pub column: u32,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub at: Position,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Null,
    Bool(bool),
    /// The number and the text it was written as (so `5` stays an integer).
    Number(f64, String),
    String(String),
    Array(Vec<Value>),
    /// Members in file order; duplicates are kept so validation can report them.
    Object(Vec<Member>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub key: String,
    pub key_at: Position,
    pub value: Value,
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Number(..) => "a number",
            Kind::String(_) => "a string",
            Kind::Array(_) => "an array",
            Kind::Object(_) => "an object",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub at: Position,
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

const MAX_DEPTH: usize = 64;

pub fn parse(text: &str) -> Result<Value, SyntaxError> {
    let mut parser = Parser {
        chars: text.chars().collect(),
        pos: 0,
        line: 1,
        column: 1,
    };
    parser.skip_blank()?;
    let value = parser.value(0)?;
    parser.skip_blank()?;
    if parser.peek().is_some() {
        return Err(parser.error("unexpected text after the end of the configuration"));
    }
    Ok(value)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    line: u32,
    column: u32,
}

impl Parser {
    fn here(&self) -> Position {
        Position {
            line: self.line,
            column: self.column,
        }
    }

    fn error(&self, message: impl Into<String>) -> SyntaxError {
        SyntaxError {
            at: self.here(),
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn expect(&mut self, want: char) -> Result<(), SyntaxError> {
        match self.peek() {
            Some(c) if c == want => {
                self.bump();
                Ok(())
            }
            Some(c) => Err(self.error(format!("expected '{want}', found '{}'", shown(c)))),
            None => Err(self.error(format!("expected '{want}', found the end of the file"))),
        }
    }

    /// Whitespace and comments, JSON5 style.
    fn skip_blank(&mut self) -> Result<(), SyntaxError> {
        loop {
            match (self.peek(), self.peek_at(1)) {
                (Some(c), _) if c.is_whitespace() || c == '\u{feff}' => {
                    self.bump();
                }
                (Some('/'), Some('/')) => {
                    while let Some(c) = self.peek() {
                        if c == '\n' {
                            break;
                        }
                        self.bump();
                    }
                }
                (Some('/'), Some('*')) => {
                    let start = self.here();
                    self.bump();
                    self.bump();
                    loop {
                        match (self.peek(), self.peek_at(1)) {
                            (Some('*'), Some('/')) => {
                                self.bump();
                                self.bump();
                                break;
                            }
                            (Some(_), _) => {
                                self.bump();
                            }
                            (None, _) => {
                                return Err(SyntaxError {
                                    at: start,
                                    message: "comment is never closed (missing '*/')".into(),
                                });
                            }
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(self.error(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        let at = self.here();
        let kind = match self.peek() {
            None => return Err(self.error("expected a value, found the end of the file")),
            Some('{') => self.object(depth)?,
            Some('[') => self.array(depth)?,
            Some(q @ ('"' | '\'')) => Kind::String(self.string(q)?),
            Some(c) if c == '-' || c == '+' || c == '.' || c.is_ascii_digit() => self.number()?,
            Some(c) if is_ident_start(c) => {
                let word = self.identifier();
                match word.as_str() {
                    "true" => Kind::Bool(true),
                    "false" => Kind::Bool(false),
                    "null" => Kind::Null,
                    "Infinity" => Kind::Number(f64::INFINITY, word),
                    "NaN" => Kind::Number(f64::NAN, word),
                    _ => {
                        return Err(SyntaxError {
                            at,
                            message: format!("unexpected word '{word}' (strings need quotes)"),
                        });
                    }
                }
            }
            Some(c) => return Err(self.error(format!("unexpected '{}'", shown(c)))),
        };
        Ok(Value { at, kind })
    }

    fn object(&mut self, depth: usize) -> Result<Kind, SyntaxError> {
        self.expect('{')?;
        let mut members = Vec::new();
        loop {
            self.skip_blank()?;
            if self.peek() == Some('}') {
                self.bump();
                return Ok(Kind::Object(members));
            }
            let key_at = self.here();
            let key = match self.peek() {
                Some(q @ ('"' | '\'')) => self.string(q)?,
                Some(c) if is_ident_start(c) => self.identifier(),
                Some(c) => {
                    return Err(self.error(format!("expected a key or '}}', found '{}'", shown(c))));
                }
                None => return Err(self.error("object is never closed (missing '}')")),
            };
            self.skip_blank()?;
            self.expect(':')?;
            self.skip_blank()?;
            let value = self.value(depth + 1)?;
            members.push(Member { key, key_at, value });
            self.skip_blank()?;
            match self.peek() {
                Some(',') => {
                    self.bump();
                }
                Some('}') => {}
                Some(c) => {
                    return Err(self.error(format!(
                        "expected ',' or '}}' after a member, found '{}'",
                        shown(c)
                    )));
                }
                None => return Err(self.error("object is never closed (missing '}')")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Kind, SyntaxError> {
        self.expect('[')?;
        let mut items = Vec::new();
        loop {
            self.skip_blank()?;
            if self.peek() == Some(']') {
                self.bump();
                return Ok(Kind::Array(items));
            }
            if self.peek().is_none() {
                return Err(self.error("array is never closed (missing ']')"));
            }
            items.push(self.value(depth + 1)?);
            self.skip_blank()?;
            match self.peek() {
                Some(',') => {
                    self.bump();
                }
                Some(']') => {}
                Some(c) => {
                    return Err(self.error(format!(
                        "expected ',' or ']' after an element, found '{}'",
                        shown(c)
                    )));
                }
                None => return Err(self.error("array is never closed (missing ']')")),
            }
        }
    }

    fn identifier(&mut self) -> String {
        let mut word = String::new();
        while let Some(c) = self.peek() {
            if is_ident_start(c) || c.is_ascii_digit() {
                word.push(c);
                self.bump();
            } else {
                break;
            }
        }
        word
    }

    fn string(&mut self, quote: char) -> Result<String, SyntaxError> {
        let start = self.here();
        self.bump();
        let mut out = String::new();
        loop {
            let Some(c) = self.bump() else {
                return Err(SyntaxError {
                    at: start,
                    message: format!("string is never closed (missing {quote})"),
                });
            };
            match c {
                c if c == quote => return Ok(out),
                '\n' => {
                    return Err(SyntaxError {
                        at: start,
                        message: format!(
                            "string is never closed before the end of line (missing {quote})"
                        ),
                    });
                }
                '\\' => self.escape(&mut out)?,
                c => out.push(c),
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<(), SyntaxError> {
        let at = self.here();
        let Some(c) = self.bump() else {
            return Err(self.error("unfinished escape at the end of the file"));
        };
        match c {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'v' => out.push('\u{b}'),
            '0' if !self.peek().is_some_and(|d| d.is_ascii_digit()) => out.push('\0'),
            '\n' | '\u{2028}' | '\u{2029}' => {} // line continuation
            '\r' => {
                if self.peek() == Some('\n') {
                    self.bump();
                }
            }
            'x' => {
                let code = self.hex_digits(2, at)?;
                out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
            }
            'u' => {
                let code = self.hex_digits(4, at)?;
                if (0xd800..0xdc00).contains(&code)
                    && self.peek() == Some('\\')
                    && self.peek_at(1) == Some('u')
                {
                    self.bump();
                    self.bump();
                    let low = self.hex_digits(4, at)?;
                    let combined =
                        0x10000 + ((code - 0xd800) << 10) + (low.wrapping_sub(0xdc00) & 0x3ff);
                    out.push(char::from_u32(combined).unwrap_or('\u{fffd}'));
                } else {
                    out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                }
            }
            c if c.is_ascii_digit() => {
                return Err(SyntaxError {
                    at,
                    message: format!("'\\{c}' is not a valid escape"),
                });
            }
            other => out.push(other),
        }
        Ok(())
    }

    fn hex_digits(&mut self, count: usize, at: Position) -> Result<u32, SyntaxError> {
        let mut code = 0u32;
        for _ in 0..count {
            let digit = self
                .peek()
                .and_then(|c| c.to_digit(16))
                .ok_or(SyntaxError {
                    at,
                    message: format!("escape needs {count} hex digits"),
                })?;
            self.bump();
            code = code * 16 + digit;
        }
        Ok(code)
    }

    fn number(&mut self) -> Result<Kind, SyntaxError> {
        let at = self.here();
        let mut text = String::new();
        if let Some(sign @ ('-' | '+')) = self.peek() {
            text.push(sign);
            self.bump();
        }
        if self.peek().is_some_and(is_ident_start) {
            let word = self.identifier();
            let negative = text == "-";
            text.push_str(&word);
            return match word.as_str() {
                "Infinity" if negative => Ok(Kind::Number(f64::NEG_INFINITY, text)),
                "Infinity" => Ok(Kind::Number(f64::INFINITY, text)),
                "NaN" => Ok(Kind::Number(f64::NAN, text)),
                _ => Err(SyntaxError {
                    at,
                    message: format!("'{text}' is not a number"),
                }),
            };
        }
        if self.peek() == Some('0') && matches!(self.peek_at(1), Some('x' | 'X')) {
            self.bump();
            self.bump();
            let mut digits = String::new();
            while let Some(c) = self.peek().filter(|c| c.is_ascii_hexdigit()) {
                digits.push(c);
                self.bump();
            }
            let magnitude = u64::from_str_radix(&digits, 16).map_err(|_| SyntaxError {
                at,
                message: format!("'{text}0x{digits}' is not a valid hexadecimal number"),
            })? as f64;
            let value = if text == "-" { -magnitude } else { magnitude };
            text.push_str("0x");
            text.push_str(&digits);
            return Ok(Kind::Number(value, text));
        }
        let body_start = text.len();
        while let Some(c) = self.peek() {
            let exponent_sign =
                (c == '-' || c == '+') && matches!(text.chars().last(), Some('e' | 'E'));
            if c.is_ascii_digit() || c == '.' || c == 'e' || c == 'E' || exponent_sign {
                text.push(c);
                self.bump();
            } else {
                break;
            }
        }
        // Rust's float parser takes "5.", ".5" and "+5" the way JSON5 means them.
        let body = &text[body_start..];
        let parsed = if body.is_empty() {
            None
        } else {
            text.parse::<f64>().ok()
        };
        match parsed {
            Some(value) => Ok(Kind::Number(value, text)),
            None => Err(SyntaxError {
                at,
                message: format!("'{text}' is not a number"),
            }),
        }
    }
}

/// A character as a person reads it in an error message.
fn shown(c: char) -> String {
    if c.is_control() {
        c.escape_debug().to_string()
    } else {
        c.to_string()
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '$'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> Kind {
        parse(text).expect("parses").kind
    }

    #[test]
    fn reads_json5_extras() {
        let v = parse("// c\n{ a: 'x', \"b\": [1, 2,], /* c */ c: +.5, d: 0x1F, e: 5., }").unwrap();
        let Kind::Object(members) = v.kind else {
            panic!("not an object")
        };
        let keys: Vec<_> = members.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(keys, ["a", "b", "c", "d", "e"]);
        assert_eq!(members[0].value.kind, Kind::String("x".into()));
        assert!(matches!(members[2].value.kind, Kind::Number(n, _) if n == 0.5));
        assert!(matches!(members[3].value.kind, Kind::Number(n, _) if n == 31.0));
        assert!(matches!(members[4].value.kind, Kind::Number(n, _) if n == 5.0));
    }

    #[test]
    fn positions_are_line_and_column() {
        let v = parse("{\n  \"a\": [\n    1, 'two'\n  ]\n}").unwrap();
        let Kind::Object(members) = v.kind else {
            panic!()
        };
        assert_eq!(members[0].key_at, Position { line: 2, column: 3 });
        let Kind::Array(items) = &members[0].value.kind else {
            panic!()
        };
        assert_eq!(items[1].at, Position { line: 3, column: 8 });
    }

    #[test]
    fn escapes() {
        assert_eq!(
            kind(r#"'a\'b\"c\n\u00e9\x41\\'"#),
            Kind::String("a'b\"c\né\u{41}\\".into())
        );
        assert_eq!(kind("\"\\ud83d\\ude00\""), Kind::String("😀".into()));
    }

    #[test]
    fn errors_say_where() {
        let e = parse("{\n  \"a\": 1\n  \"b\": 2\n}").unwrap_err();
        assert_eq!(e.at, Position { line: 3, column: 3 });
        assert!(e.message.contains("expected ','"), "{e}");
        let e = parse("{ 'a': 'open }").unwrap_err();
        assert!(e.message.contains("never closed"), "{e}");
        let e = parse("[1, 2").unwrap_err();
        assert!(e.message.contains("never closed"), "{e}");
        let e = parse("{ a: yes }").unwrap_err();
        assert!(e.message.contains("'yes'"), "{e}");
        assert!(parse("1 2").is_err());
        assert!(parse("").is_err());
        assert!(parse("/* open").is_err());
        assert!(parse("-").is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(10_000);
        assert!(parse(&deep).unwrap_err().message.contains("nested deeper"));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,64}") {
            let _ = parse(&text);
        }

        #[test]
        fn never_panics_on_json_like(text in "[\\[\\]{}:,'\"\\\\0-9a-z.+\\-/* \n]{0,64}") {
            let _ = parse(&text);
        }
    }
}
