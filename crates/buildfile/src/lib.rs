//! The mkifs buildfile language.
//!
//! [`parse`] turns a buildfile into a [`Buildfile`] syntax tree (every node
//! with its span), reporting every error with recovery; [`resolve`] turns
//! that into a [`Manifest`]: the complete list of what the image will hold.

pub mod codes;
pub mod manifest;

pub use manifest::*;
