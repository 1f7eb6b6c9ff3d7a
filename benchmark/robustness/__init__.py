"""Behavioural tests and slices: how each classifier fails, side by side.

Minimum-functionality tests from templates (:mod:`.templates`), invariance and directional
tests that perturb the run's own test reviews (:mod:`.perturb`), after CheckList (Ribeiro et
al., ACL 2020); their cases (:mod:`.cases`), scores and statistics (:mod:`.score`), and
accuracy per slice of the test split (:mod:`.slices`: review length, ``--group-column``).
The suite of tests and its word lists are data files (:mod:`.suite`, ``data/``).
"""
