from seamscope.tui.cli import main

main()
