# The two commands: `make demo` runs the all-in-one demo, `make test` runs every test.
.PHONY: demo test
demo:
	scripts/demo.sh
test:
	scripts/test.sh
