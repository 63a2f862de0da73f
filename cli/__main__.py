from seamscope.cli.main import main

# Guarded: multiprocessing's spawn (collect --decoders) re-imports the main module in each child.
if __name__ == "__main__":
    main()
