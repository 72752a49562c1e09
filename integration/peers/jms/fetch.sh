#!/bin/sh
# fetch.sh DEST: copies the Qpid JMS client named in pom.xml and its runtime
# dependencies into DEST/lib, for the integration suite's JMS peer
# (JmsPeer.java, compiled by the tests). Idempotent: nothing is fetched when
# DEST/lib already holds the qpid-jms-client jar of that version.
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 DEST" >&2
	exit 2
fi
mkdir -p "$1"
dest=$(cd "$1" && pwd) # absolute: mvn resolves paths against the pom's directory
here=$(cd "$(dirname "$0")" && pwd)
pom=$here/pom.xml

version=$(sed -n 's:.*<qpid-jms.version>\(.*\)</qpid-jms.version>.*:\1:p' "$pom")
if [ -z "$version" ]; then
	echo "$0: no <qpid-jms.version> in $pom" >&2
	exit 1
fi
if [ -f "$dest/lib/qpid-jms-client-$version.jar" ]; then
	exit 0
fi

# A previous version's jars would end up on the same classpath: start clean.
rm -rf "$dest/lib" "$dest/lib.tmp"
mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies \
	-DincludeScope=runtime -DoutputDirectory="$dest/lib.tmp"
mv "$dest/lib.tmp" "$dest/lib"
