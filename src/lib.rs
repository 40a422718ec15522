//! mapper: declarative connectors that turn vendor ATS APIs into one unified data model.
//!
//! Three stages, one module each: [`spec`] (what authors write), [`compile`] (the only place
//! strings are parsed; produces a [`compile::Plan`]) and [`run`] (executes a plan against an
//! HTTP transport and writes validated unified records); [`state`] is what runs remember.

pub mod compile;
pub mod config;
pub mod coverage;
pub mod describe;
pub mod ids;
pub mod run;
pub mod secret;
pub mod spec;
pub mod state;
pub mod suggest;
pub mod writeback;
