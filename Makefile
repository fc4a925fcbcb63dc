.PHONY: up test ci lint fmt messages
up:
	python3 scripts/dev.py up
test:
	python3 scripts/dev.py test
ci:
	bash .ci/run
lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
fmt:
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .
messages:
	.venv/bin/python manage.py makemessages -l en --ignore=.venv && .venv/bin/python manage.py compilemessages --ignore=.venv
