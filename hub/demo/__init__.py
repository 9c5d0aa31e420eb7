"""The demo story: client onboarding across siloed systems."""
