"""speech-mnist: the package the pipeline stages share."""
