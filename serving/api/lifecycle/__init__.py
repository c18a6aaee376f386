"""Named status transitions per kind, over the condition sets Knative declares.

Reconcilers change conditions only through these functions; each returns a new status dict.
"""
