//! One module per subcommand.

pub mod build;
pub mod check;
pub mod dump;
pub mod explain;
pub mod manifest;
pub mod qvm;
pub mod run;
