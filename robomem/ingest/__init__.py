"""Where a frame enters: back-projection, association to persistent ids, visibility, the preprocessed frame."""
