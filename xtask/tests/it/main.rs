mod github;
mod preflight;
mod registry;
mod workflow_corpus;
