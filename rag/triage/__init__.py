"""Triage: a pasted ticket or log to the matching articles and a reply draft."""
