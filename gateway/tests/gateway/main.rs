//! The real gateway in front of a real (fixture) orders service, with
//! certificates and tokens generated per test.

mod edge;
mod fixture;
mod grpc;
mod rest;
