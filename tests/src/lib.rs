//! Test kit shared by the core's and the PAM module's integration tests and the end-to-end
//! suite: real peers on loopback (an SMTP server, a fresh PostgreSQL database), fixtures over a
//! real core ([`fixtures`]), the both-backends test macro ([`both_backends!`]) and small
//! helpers to read what the peers received. Nothing here is a mock.

// A test kit: a failed setup step should stop the test on the spot, with the line that failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod backends;
pub mod fixtures;
pub mod postgres;
pub mod smtp;

pub use backends::{fresh_db_url, Backend};

/// A loopback port that was free a moment ago (callers retry if another process takes it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral loopback port")
}

/// The first run of exactly `n` digits in `text` (a code in a message).
pub fn digits_in(text: &str, n: usize) -> String {
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            if run.len() == n {
                return run;
            }
            run.clear();
        }
    }
    panic!("no {n}-digit code in {text:?}")
}
