"""Test support shared by the PAIS test suites: real servers on loopback, started and stopped by fixtures.

Import from the submodules (`pais_testing.ports`, `pais_testing.scripted_model`, ...): each one
imports only what its own component needs, so a package's tests run with just that package installed.
"""
