mod preflight;
mod workflow_corpus;
