mod github;
mod preflight;
mod registry;
mod reliability;
mod secrets;
mod workflow_corpus;
