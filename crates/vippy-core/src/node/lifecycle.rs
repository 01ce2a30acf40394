//! Where one process is in its life. It boots (listening before it may
//! serve), matures, and either serves until it stops or stands down for
//! a twin under its name. Maturity is kept through the last two because
//! status and the reasons still tell it.

/// The stages of a node's process, replacing one flag per stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lifecycle {
    /// Before `mature` (the original's boot wait): it listens and takes
    /// nothing, so it first hears what the cluster holds.
    Booting,
    /// Mature: it serves as far as its other reasons allow.
    Mature,
    /// Lost to a live twin under its name (see `hear_twin`): it says
    /// nothing and holds nothing for the rest of this process.
    StoodDown { mature: bool },
    /// Shut down: everything released and the goodbye sent, in the one
    /// step that set it; no input is read after it.
    Stopped { mature: bool },
}

impl Lifecycle {
    pub fn mature(self) -> bool {
        match self {
            Lifecycle::Booting => false,
            Lifecycle::Mature => true,
            Lifecycle::StoodDown { mature } | Lifecycle::Stopped { mature } => mature,
        }
    }

    /// The `mature` deadline passed, whatever the stage.
    pub fn mature_now(&mut self) {
        *self = match *self {
            Lifecycle::Booting | Lifecycle::Mature => Lifecycle::Mature,
            Lifecycle::StoodDown { .. } => Lifecycle::StoodDown { mature: true },
            Lifecycle::Stopped { .. } => Lifecycle::Stopped { mature: true },
        };
    }

    pub fn stood_down(self) -> bool {
        matches!(self, Lifecycle::StoodDown { .. })
    }

    pub fn stopped(self) -> bool {
        matches!(self, Lifecycle::Stopped { .. })
    }

    /// Standing down for a twin; a stopped process stays stopped.
    pub fn stand_down(&mut self) {
        if !self.stopped() {
            *self = Lifecycle::StoodDown {
                mature: self.mature(),
            };
        }
    }

    /// Shutting down, from any stage.
    pub fn stop(&mut self) {
        *self = Lifecycle::Stopped {
            mature: self.mature(),
        };
    }
}
