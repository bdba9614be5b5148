/*
 * Replays a fuzz target's seed corpus as a plain test, in every build:
 * calls LLVMFuzzerTestOneInput over each file of the folder given.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/fileio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
main(int argc, char **argv)
{
	struct dirent *de;
	int n = 0;
	DIR *dir;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS-DIR\n", argv[0]);
		return 64;
	}
	if ((dir = opendir(argv[1])) == NULL) {
		perror(argv[1]);
		return 66;
	}
	while ((de = readdir(dir)) != NULL) {
		char path[4096];
		uint8_t *buf;
		size_t len;

		if (de->d_name[0] == '.')
			continue;
		if (fileio_join(path, sizeof(path), argv[1], de->d_name) != 0 ||
		    fileio_read(path, 16 * 1024 * 1024, &buf, &len) != 0) {
			fprintf(stderr, "cannot read %s\n", de->d_name);
			closedir(dir);
			return 1;
		}
		LLVMFuzzerTestOneInput(buf, len);
		free(buf);
		n++;
	}
	closedir(dir);
	printf("%d corpus files replayed\n", n);
	return n > 0 ? 0 : 1;
}
