//! tuner crate.
