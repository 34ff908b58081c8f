"""Binds a team's own scenarios (``--own-features DIR``; ``clinic-session run --features DIR``) to tests that run
with the shipped steps, through the target's profile; nothing without the option."""

from pytest_bdd import scenarios

from steps.support.own_features import FOLDERS

if FOLDERS:
    scenarios(*(str(folder) for folder in FOLDERS))
