mod github;
mod preflight;
mod workflow_corpus;
