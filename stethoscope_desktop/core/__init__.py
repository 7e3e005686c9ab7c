"""Policy, checks, evaluation, ranking and scanning: the app's logic, free of Qt."""
