/*
 * The whole of one static library linked into an executable against only
 * the libraries its CMakeLists.txt declares (tests/checks/CMakeLists.txt):
 * an undeclared call is an undefined reference, and the build fails.
 */
int main(void);

int
main(void)
{
	return 0;
}
