"""Support code the example DAGs in ``dags/`` import (installed with the project)."""
