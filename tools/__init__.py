"""Developer tools that are not part of the job: screenshots for the docs."""
