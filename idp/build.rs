//! The message catalogue (`locales/<lang>/*.ftl`) is compiled in by fluent-templates'
//! `static_loader!`, which makes cargo watch the files it found but not the folder: without
//! this, a new language's folder would not be noticed until some other file changed.
fn main() {
    println!("cargo:rerun-if-changed=locales");
}
