from openlines.cli import main

main()
