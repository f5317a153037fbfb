"""Publishing: model cards generated from run records and probe results, and the upload to the Hugging Face Hub."""
