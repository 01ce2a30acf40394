//! The tracing layer: filters an event with the mask, collects its fields
//! and those of its spans into an [`Entry`], and queues it for the writer.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Record as SpanRecord};
use tracing::subscriber::Interest;
use tracing::{Event, Id, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;
use vippy_core::config::Severity;

use super::format::{Entry, FieldValue};
use super::{SEVERITY_FIELD, Shared, is_vippy, severity};

#[derive(Default)]
struct FieldVisitor {
    message: String,
    severity: Option<String>,
    fields: Vec<FieldValue>,
}

impl Visit for FieldVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message.push_str(value),
            SEVERITY_FIELD => self.severity = Some(value.to_string()),
            name => self.fields.push(FieldValue {
                name,
                value: value.to_string(),
                is_str: true,
            }),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            // `format_args!`: its Debug is its Display.
            "message" => {
                let _ = write!(self.message, "{value:?}");
            }
            SEVERITY_FIELD => self.severity = Some(format!("{value:?}")),
            name => self.fields.push(FieldValue {
                name,
                value: format!("{value:?}"),
                is_str: false,
            }),
        }
    }
}

/// Fields of a span, kept in its extensions for the events inside it.
struct SpanFields(Vec<FieldValue>);

pub(super) struct SinkLayer {
    pub(super) shared: Arc<Shared>,
    pub(super) node: String,
}

impl SinkLayer {
    fn mask_allows(&self, severity: Severity) -> bool {
        !self.shared.mask_in_use
            || self.shared.mask.load(Ordering::Relaxed) & (1 << severity as u8) != 0
    }
}

impl<S> Layer<S> for SinkLayer
where
    S: Subscriber + for<'l> LookupSpan<'l>,
{
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // The mask can change on reload, so nothing is cached.
        Interest::sometimes()
    }

    fn enabled(&self, meta: &Metadata<'_>, _: Context<'_, S>) -> bool {
        if !meta.is_event() || !self.shared.mask_in_use {
            return true;
        }
        if !is_vippy(meta.target()) && *meta.level() > Level::WARN {
            return false;
        }
        // A `severity` field may name any severity: decided per event.
        meta.fields().field(SEVERITY_FIELD).is_some()
            || self.mask_allows(severity(meta.level(), None))
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut visitor = FieldVisitor::default();
        attrs.record(&mut visitor);
        span.extensions_mut().insert(SpanFields(visitor.fields));
    }

    fn on_record(&self, id: &Id, values: &SpanRecord<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut visitor = FieldVisitor::default();
        values.record(&mut visitor);
        let mut ext = span.extensions_mut();
        if let Some(fields) = ext.get_mut::<SpanFields>() {
            for new in visitor.fields {
                fields.0.retain(|f| f.name != new.name);
                fields.0.push(new);
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let time = SystemTime::now();
        let meta = event.metadata();
        let mut visitor = FieldVisitor::default();
        event.record(&mut visitor);
        let severity = severity(meta.level(), visitor.severity.as_deref());
        if !self.mask_allows(severity) {
            return;
        }
        let mut fields = visitor.fields;
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(span_fields) = span.extensions().get::<SpanFields>() {
                    for f in &span_fields.0 {
                        if !fields.iter().any(|have| have.name == f.name) {
                            fields.push(f.clone());
                        }
                    }
                }
            }
        }
        // `node` is this node; events about another node say `peer`.
        if !fields.iter().any(|f| f.name == "node") {
            fields.push(FieldValue {
                name: "node",
                value: self.node.clone(),
                is_str: true,
            });
        }
        self.shared.queue.push(Entry {
            time,
            severity,
            target: meta.target(),
            file: meta.file(),
            line: meta.line(),
            message: visitor.message,
            fields,
        });
    }
}
