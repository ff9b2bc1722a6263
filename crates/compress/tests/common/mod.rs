//! Deterministic test data shared by the tests and the benchmarks: it lives
//! in `testkit::data`.

#![allow(unused_imports)]

pub(crate) use testkit::data::*;
