from forumsync.cli import main

main()
