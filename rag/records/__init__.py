"""What kbqa keeps about its use: the query log, feedback, and the gaps found in them."""
