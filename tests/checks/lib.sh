# Sourced by the check scripts: the project's own C sources, one a line,
# relative to the top of the source tree (the current folder). Tracked files
# in a git checkout; otherwise every .c and .h outside build folders.
check_sources()
{
	if [ -e .git ] && command -v git >/dev/null 2>&1; then
		git ls-files -- '*.c' '*.h'
	else
		find . -name '*.[ch]' ! -path './build*' ! -path './.git/*' |
		    sed 's|^\./||' | sort
	fi
}

# Prints a data file without comments (from #) and blank lines.
check_data()
{
	sed -e 's/#.*//' -e 's/[ 	]*$//' -e '/^[ 	]*$/d' "$1"
}
