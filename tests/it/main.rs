//! The integration suite: one binary, the real server on 127.0.0.1:0 over a real SQLite
//! file in a temporary directory. No part of Haitang is mocked.

mod admin;
mod assets;
mod auth;
mod blobs;
mod crash;
mod demo;
mod hardening;
mod helpers;
mod households;
mod lifecycle;
mod phone;
mod sync;
mod workflow;
