"""The agent's work, read from its sandbox: where the repositories are (workspace), which files
changed and how they read (changes, diffs), and the whole work as one patch with git's own parse of
it and its digest (patch). Nothing here writes to the person's machine: that is local/'s job."""
