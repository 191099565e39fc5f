mod github;
mod preflight;
mod registry;
mod release;
mod workflow_corpus;
