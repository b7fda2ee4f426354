//! The two storage backends every storage test runs on, and [`both_backends!`](crate::both_backends),
//! which writes the pair of tests.

/// Which database a test's core uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A new, empty database URL for `backend`: a SQLite file in `dir`, or a fresh database on the
/// test PostgreSQL ([`crate::postgres`]).
pub async fn fresh_db_url(backend: Backend, dir: &std::path::Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.join("stepgate.db").display()),
        Backend::Postgres => crate::postgres::fresh_database_url().await,
    }
}

/// Runs a test on both backends: a module named after the test with two tests in it, `sqlite`
/// and `postgres` (so `cargo test NAME` runs both, `cargo test NAME::sqlite` one, and
/// `cargo test ::sqlite` every SQLite half). The `postgres` half first asks
/// [`crate::postgres::skip`]: without a test PostgreSQL it is skipped with a line on stderr,
/// or fails under scripts/test.sh.
///
/// Two forms. A test whose body is a function (or closure) of a [`Backend`] returning a future:
///
/// ```ignore
/// both_backends!(totp_journey);                      // calls totp_journey(backend)
/// both_backends!(cli_group_commands, cli_commands);  // test name, then the body
/// both_backends!(code_flow_with_pkce, |b| code_flow(b, Registered::Confidential));
/// ```
///
/// Or bodies written in place, the backend bound to the name in parentheses:
///
/// ```ignore
/// both_backends! {
///     async fn a_code_is_accepted_once(backend) {
///         let env = env_with(backend, "").await;
///         …
///     }
/// }
/// ```
///
/// The module sees its parent's items (`use super::*`), and the tests are
/// `#[tokio::test(flavor = "multi_thread", worker_threads = 2)]`: the calling crate depends on
/// tokio.
#[macro_export]
macro_rules! both_backends {
    ($(#[$meta:meta])* $name:ident $(,)?) => {
        $crate::both_backends!($(#[$meta])* $name, $name);
    };
    ($(#[$meta:meta])* $name:ident, $body:expr $(,)?) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                ($body)($crate::Backend::Sqlite).await
            }

            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::postgres::skip(concat!(module_path!(), "::postgres")) {
                    return;
                }
                ($body)($crate::Backend::Postgres).await
            }
        }
    };
    ($($(#[$meta:meta])* async fn $name:ident($b:ident) $body:block)*) => {
        $(
            $(#[$meta])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let $b = $crate::Backend::Sqlite;
                    $body
                }

                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if $crate::postgres::skip(concat!(module_path!(), "::postgres")) {
                        return;
                    }
                    let $b = $crate::Backend::Postgres;
                    $body
                }
            }
        )*
    };
}
