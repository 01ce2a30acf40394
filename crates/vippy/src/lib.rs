//! The Linux daemon around [`vippy_core`]: data plane, chat sockets, the
//! runtime loop and the management API.

pub mod net;
