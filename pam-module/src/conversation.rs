//! What the login flow needs from the application hosting the module: a way to ask the person
//! questions and tell them things, and PAM's shared password item.
//!
//! The flow in [`crate::flow`] only talks to this trait, so it is plain Rust that unit tests
//! drive with [`Scripted`]; [`crate::ffi`] implements it over the real PAM handle.

use zeroize::Zeroizing;

/// The application's conversation failed (the client went away, or refused to answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConversationFailed;

pub trait Conversation {
    /// Asks a question. `echo` is false for codes and passwords (they are secrets on a shared
    /// screen), true for menu choices.
    fn ask(&mut self, prompt: &str, echo: bool) -> Result<Zeroizing<String>, ConversationFailed>;
    /// Tells the person something (`PAM_TEXT_INFO`). Best effort: a lost message is not a
    /// reason to fail a login.
    fn info(&mut self, text: &str);
    /// Tells the person what went wrong (`PAM_ERROR_MSG`). Best effort too.
    fn error(&mut self, text: &str);
    /// The password an earlier module of the stack stored (`PAM_AUTHTOK`), if any.
    fn stored_password(&self) -> Option<Zeroizing<String>> {
        None
    }
    /// Stores the password this module asked for, so later modules can `use_first_pass`.
    fn store_password(&mut self, _password: &str) {}
}

/// One step of a scripted conversation, as a test expects it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Said {
    Asked { prompt: String, echo: bool },
    Info(String),
    Error(String),
}

/// A conversation that answers from a list and records everything that was said; running out
/// of answers is a [`ConversationFailed`], like a client that hung up.
#[derive(Debug, Default)]
pub struct Scripted {
    answers: std::collections::VecDeque<String>,
    pub transcript: Vec<Said>,
    pub password_item: Option<String>,
}

impl Scripted {
    pub fn new<S: Into<String>>(answers: impl IntoIterator<Item = S>) -> Scripted {
        Scripted {
            answers: answers.into_iter().map(Into::into).collect(),
            ..Scripted::default()
        }
    }

    /// Adds an answer at the end, for flows whose next answer depends on what happened (an
    /// SMS code read from the sink).
    pub fn push(&mut self, answer: impl Into<String>) {
        self.answers.push_back(answer.into());
    }

    pub fn prompts(&self) -> Vec<&str> {
        self.transcript
            .iter()
            .filter_map(|s| match s {
                Said::Asked { prompt, .. } => Some(prompt.as_str()),
                _ => None,
            })
            .collect()
    }

    pub fn errors(&self) -> Vec<&str> {
        self.transcript
            .iter()
            .filter_map(|s| match s {
                Said::Error(t) => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }

    pub fn infos(&self) -> Vec<&str> {
        self.transcript
            .iter()
            .filter_map(|s| match s {
                Said::Info(t) => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }

    pub fn answers_left(&self) -> usize {
        self.answers.len()
    }
}

impl Conversation for Scripted {
    fn ask(&mut self, prompt: &str, echo: bool) -> Result<Zeroizing<String>, ConversationFailed> {
        self.transcript.push(Said::Asked {
            prompt: prompt.to_string(),
            echo,
        });
        self.answers
            .pop_front()
            .map(Zeroizing::new)
            .ok_or(ConversationFailed)
    }
    fn info(&mut self, text: &str) {
        self.transcript.push(Said::Info(text.to_string()));
    }
    fn error(&mut self, text: &str) {
        self.transcript.push(Said::Error(text.to_string()));
    }
    fn stored_password(&self) -> Option<Zeroizing<String>> {
        self.password_item.clone().map(Zeroizing::new)
    }
    fn store_password(&mut self, password: &str) {
        self.password_item = Some(password.to_string());
    }
}
