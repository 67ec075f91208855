"""RQ workers: job functions, the background-job runner and the reconciler."""
