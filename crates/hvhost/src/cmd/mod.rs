//! One module per subcommand.

pub mod explain;
pub mod manifest;
pub mod qvm;
