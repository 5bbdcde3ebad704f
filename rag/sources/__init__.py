"""Where the KB comes from: folders, git repositories and web help centers, kept in step by `kbqa sync`."""
