from dbt.cli import main

main()
