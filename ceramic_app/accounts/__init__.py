"""Sign-up, sign-in, sessions and workspace membership."""
