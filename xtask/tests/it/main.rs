mod preflight;
mod registry;
mod workflow_corpus;
