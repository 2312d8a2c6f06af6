from netfit.cli import main

main()
