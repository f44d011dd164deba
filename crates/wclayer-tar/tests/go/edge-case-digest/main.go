// Command edge-case-digest writes the fourteen edge-case entries of the Rust test
// go_generated_edge_case_digest (crates/wclayer-tar/tests/tar/gotar/go_reference.rs) with
// Go's archive/tar and prints the archive's length and SHA-256. The test asserts both values
// for wclayer's GoTarWriter; this program is where its digest comes from.
//
// Every header here mirrors the Rust test field for field. A Rust Header::default() is Go's
// zero Header except for its typeflag, which is '0' (tar.TypeReg), so headers built from it
// set Typeflag explicitly; UnixTime::GO_ZERO is Go's zero time.Time.
package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"log"
	"strings"
	"time"
)

type entry struct {
	hdr  *tar.Header
	data []byte
}

// data is n bytes of "0123456789" repeated, as the Rust test's `data(n)`.
func data(n int) []byte {
	return bytes.Repeat([]byte("0123456789"), n/10+1)[:n]
}

// pax is the Rust test's `pax(name)`: a regular file with Format PAX.
func pax(name string) *tar.Header {
	return &tar.Header{Name: name, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
}

func entries() []entry {
	t0 := time.Unix(1609556645, 123456700)
	t1 := time.Unix(1609556646, 0)
	var es []entry

	// a: non-ASCII name whose filtered form puts '/' at the field boundary.
	a := pax("Files/" + strings.Repeat("a", 91) + "/é/é/child")
	a.Mode, a.Size, a.ModTime, a.AccessTime, a.ChangeTime = 0o100000, 3, t1, t1, t1
	a.PAXRecords = map[string]string{"MSWINDOWS.fileattr": "32"}
	es = append(es, entry{a, data(3)})

	// b, c, d: whiteouts — splittable, unsplittable, non-ASCII.
	for _, name := range []string{
		"Files/" + strings.Repeat("d", 80) + "/" + strings.Repeat("e", 40) + "/.wh." + strings.Repeat("f", 30),
		"Files/.wh." + strings.Repeat("g", 150),
		"Files/.wh.é",
	} {
		es = append(es, entry{&tar.Header{Name: name, Typeflag: tar.TypeReg}, nil})
	}

	// e: Format PAX with nothing that needs PAX becomes USTAR, with a split name.
	e := pax(strings.Repeat("p", 60) + "/" + strings.Repeat("q", 60))
	e.Typeflag, e.Mode, e.ModTime = tar.TypeDir, 0o40000, t1
	es = append(es, entry{e, nil})

	// f: negative fractional mtime, atime past the octal range, no ctime.
	f := pax("Files/times")
	f.Mode, f.ModTime, f.AccessTime = 0o100000, time.Unix(-2, 500000000), time.Unix(8589934592, 0)
	es = append(es, entry{f, nil})

	// g: a header-only type with a size beyond the octal field.
	g := pax("Files/bigdir")
	g.Typeflag, g.Mode, g.Size = tar.TypeDir, 0o40000, 8589934592
	g.ModTime, g.AccessTime, g.ChangeTime = t0, t0, t0
	es = append(es, entry{g, nil})

	// h: ids and user names that need records.
	h := pax("Files/ids")
	h.Uid, h.Gid, h.ModTime = 2097152, 7, t1
	h.Uname, h.Gname = "usér", strings.Repeat("g", 40)
	es = append(es, entry{h, nil})

	// i: Go's GNU fallback (mode beyond octal), long names in ././@LongLink, base-256 numbers.
	i := &tar.Header{
		Name:     "Files/" + strings.Repeat("n", 120),
		Linkname: strings.Repeat("l", 101),
		Typeflag: tar.TypeLink,
		Mode:     0o10000000,
		Uid:      -1,
		ModTime:  time.Unix(-5, 0),
		Size:     5,
	}
	es = append(es, entry{i, nil})

	// j: data padding and a non-ASCII link name.
	j := pax("Files/data")
	j.Linkname, j.Mode, j.Size = "ü", 0o100000, 700
	j.ModTime, j.AccessTime, j.ChangeTime = t0, t1, t1
	es = append(es, entry{j, data(700)})

	// k: a global header; its `path` record is kept.
	k := &tar.Header{
		Typeflag:   tar.TypeXGlobalHeader,
		PAXRecords: map[string]string{"comment": "hi", "path": "x"},
	}
	es = append(es, entry{k, nil})

	// l: an unspecified format rounds the mtime (half up) and drops atime.
	l := &tar.Header{
		Name:       "Files/round",
		Typeflag:   tar.TypeReg,
		ModTime:    time.Unix(1609556645, 500000000),
		AccessTime: t1,
	}
	es = append(es, entry{l, nil})

	// m: a name that needs cleaning for its PaxHeaders.0 entry.
	m := pax("a//./b/../é")
	m.Typeflag, m.Linkname = tar.TypeSymlink, "x"
	es = append(es, entry{m, nil})

	// n: typeflag 0 (tar.TypeRegA) with a trailing slash is promoted to a directory.
	n := &tar.Header{Name: "Files/dir/", Typeflag: 0, Mode: 0o40000}
	es = append(es, entry{n, nil})

	return es
}

func main() {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries() {
		if err := tw.WriteHeader(e.hdr); err != nil {
			log.Fatalf("%s: %v", e.hdr.Name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			log.Fatalf("%s: %v", e.hdr.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("length: %d\n", buf.Len())
	fmt.Printf("sha256: %x\n", sha256.Sum256(buf.Bytes()))
}
