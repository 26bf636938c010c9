// Command estargz-verify checks an eStargz blob with the Go reference
// implementation (github.com/containerd/stargz-snapshotter/estargz, the
// version Debian ships) and lists its entries as JSON lines.
//
//	estargz-verify [-toc-digest sha256:...] BLOB
//
// It opens the blob with estargz.Open, verifies the TOC digest (against the
// flag when given), checks every chunk of every regular file the way the Go
// snapshotter reads it (one gzip member from the chunk's offset, then the
// chunk digest), checks every file's full content against its TOC digest,
// and reads the whole blob as a plain tar.gz to check that the tar stream
// and the TOC list the same entries in the same order.
//
// Output: one JSON object per TOC entry (chunks folded into their file),
// then one summary object with "tocDigest". Exit status 1 on any mismatch.
package main

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/containerd/stargz-snapshotter/estargz"
	digest "github.com/opencontainers/go-digest"
)

type entryLine struct {
	Name        string            `json:"name"`
	RawName     string            `json:"rawName"`
	Type        string            `json:"type"`
	Size        int64             `json:"size"`
	Mode        int64             `json:"mode"`
	UID         int               `json:"uid"`
	GID         int               `json:"gid"`
	UserName    string            `json:"userName"`
	GroupName   string            `json:"groupName"`
	ModTime     string            `json:"modtime"`
	LinkName    string            `json:"linkName"`
	DevMajor    int               `json:"devMajor"`
	DevMinor    int               `json:"devMinor"`
	Xattrs      map[string]string `json:"xattrs"`
	Digest      string            `json:"digest"`
	ContentHash string            `json:"sha256"`
	Chunks      int               `json:"chunks"`
}

type summaryLine struct {
	TOCDigest  string `json:"tocDigest"`
	TOCVersion int    `json:"tocVersion"`
	FooterSize int64  `json:"footerSize"`
	DiffID     string `json:"diffID"`
	BlobSize   int64  `json:"blobSize"`
	Entries    int    `json:"entries"`
}

func main() {
	want := flag.String("toc-digest", "", "expected TOC digest (sha256:...)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: estargz-verify [-toc-digest D] BLOB")
		os.Exit(2)
	}
	if err := verify(flag.Arg(0), *want, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "estargz-verify:", err)
		os.Exit(1)
	}
}

func verify(blobPath, wantTOC string, out io.Writer) error {
	f, err := os.Open(blobPath)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	sr := io.NewSectionReader(f, 0, st.Size())
	r, err := estargz.Open(sr)
	if err != nil {
		return fmt.Errorf("estargz.Open: %w", err)
	}
	if wantTOC == "" {
		wantTOC = r.TOCDigest().String()
	}
	tv, err := r.VerifyTOC(digest.Digest(wantTOC))
	if err != nil {
		return fmt.Errorf("VerifyTOC: %w", err)
	}
	toc, footerSize, err := rawTOC(sr, r.TOCDigest())
	if err != nil {
		return err
	}
	b := &blob{sr: sr, r: r, tv: tv}
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	var listed []*estargz.TOCEntry
	for _, e := range toc.Entries {
		if e.Type == "chunk" {
			continue
		}
		line, err := b.describe(e)
		if err != nil {
			return fmt.Errorf("entry %q: %w", e.Name, err)
		}
		if err := enc.Encode(line); err != nil {
			return err
		}
		listed = append(listed, e)
	}
	diffID, err := checkTarStream(sr, listed)
	if err != nil {
		return err
	}
	return enc.Encode(summaryLine{
		TOCDigest:  r.TOCDigest().String(),
		TOCVersion: toc.Version,
		FooterSize: footerSize,
		DiffID:     diffID,
		BlobSize:   st.Size(),
		Entries:    len(listed),
	})
}

// rawTOC decodes the TOC in blob order (estargz.Reader only exposes a tree)
// and checks that it hashes to the digest the Reader computed.
func rawTOC(sr *io.SectionReader, d digest.Digest) (*estargz.JTOC, int64, error) {
	tocOff, footerSize, err := estargz.OpenFooter(sr)
	if err != nil {
		return nil, 0, fmt.Errorf("OpenFooter: %w", err)
	}
	tocR := io.NewSectionReader(sr, tocOff, sr.Size()-tocOff-footerSize)
	toc, tocDgst, err := new(estargz.GzipDecompressor).ParseTOC(tocR)
	if err != nil {
		return nil, 0, fmt.Errorf("ParseTOC: %w", err)
	}
	if tocDgst != d {
		return nil, 0, fmt.Errorf("TOC digest %s from ParseTOC, %s from Open", tocDgst, d)
	}
	return toc, footerSize, nil
}

// blob is an opened eStargz blob with its TOC verified.
type blob struct {
	sr *io.SectionReader
	r  *estargz.Reader
	tv estargz.TOCEntryVerifier
}

// describe lists a raw TOC entry; regular files are checked chunk by chunk.
func (b *blob) describe(e *estargz.TOCEntry) (*entryLine, error) {
	line := &entryLine{
		Name:      clean(e.Name),
		RawName:   e.Name,
		Type:      e.Type,
		Size:      e.Size,
		Mode:      e.Mode,
		UID:       e.UID,
		GID:       e.GID,
		UserName:  e.Uname,
		GroupName: e.Gname,
		ModTime:   e.ModTime3339,
		LinkName:  e.LinkName,
		DevMajor:  e.DevMajor,
		DevMinor:  e.DevMinor,
		Xattrs:    map[string]string{},
		Digest:    e.Digest,
	}
	for k, v := range e.Xattrs {
		line.Xattrs[k] = base64.StdEncoding.EncodeToString(v)
	}
	if e.Type != "reg" {
		return line, nil
	}
	sum, chunks, err := b.verifyFile(line.Name, e)
	if err != nil {
		return nil, err
	}
	line.ContentHash = sum
	line.Chunks = chunks
	return line, nil
}

// verifyFile checks each chunk as the snapshotter does, then the whole
// content through OpenFile against the entry's digest.
func (b *blob) verifyFile(name string, e *estargz.TOCEntry) (string, int, error) {
	chunks := 0
	for off := int64(0); off < e.Size; chunks++ {
		ce, ok := b.r.ChunkEntryForOffset(name, off)
		if !ok || ce.ChunkOffset != off || ce.ChunkSize <= 0 {
			return "", 0, fmt.Errorf("no chunk starts at offset %d", off)
		}
		if err := b.verifyChunk(ce); err != nil {
			return "", 0, fmt.Errorf("chunk at %d: %w", off, err)
		}
		off += ce.ChunkSize
	}
	fr, err := b.r.OpenFile(name)
	if err != nil {
		return "", 0, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, fr); err != nil {
		return "", 0, fmt.Errorf("read: %w", err)
	}
	sum := "sha256:" + hex.EncodeToString(h.Sum(nil))
	if e.Digest != sum {
		return "", 0, fmt.Errorf("content %s, TOC digest %q", sum, e.Digest)
	}
	return sum, chunks, nil
}

// verifyChunk inflates only [Offset, NextOffset) of the blob, which must
// start a gzip member whose first ChunkSize bytes are the chunk.
func (b *blob) verifyChunk(ce *estargz.TOCEntry) error {
	v, err := b.tv.Verifier(ce)
	if err != nil {
		return err
	}
	zr, err := gzip.NewReader(io.NewSectionReader(b.sr, ce.Offset, ce.NextOffset()-ce.Offset))
	if err != nil {
		return fmt.Errorf("no gzip member at offset %d: %w", ce.Offset, err)
	}
	if _, err := io.CopyN(v, zr, ce.ChunkSize); err != nil {
		return fmt.Errorf("inflate %d bytes at offset %d: %w", ce.ChunkSize, ce.Offset, err)
	}
	if !v.Verified() {
		return errors.New("chunk digest mismatch")
	}
	return nil
}

// checkTarStream reads the blob as one tar.gz: the entries must be the TOC's,
// in order, followed by the TOC entry itself. Returns the diffID.
func checkTarStream(sr *io.SectionReader, listed []*estargz.TOCEntry) (string, error) {
	zr, err := gzip.NewReader(io.NewSectionReader(sr, 0, sr.Size()))
	if err != nil {
		return "", fmt.Errorf("blob is not gzip: %w", err)
	}
	h := sha256.New()
	tr := tar.NewReader(io.TeeReader(zr, h))
	i := 0
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("blob as tar.gz: %w", err)
		}
		if clean(hdr.Name) == estargz.TOCTarName {
			continue
		}
		if i >= len(listed) || clean(hdr.Name) != clean(listed[i].Name) {
			return "", fmt.Errorf("tar entry %d is %q, not in TOC order", i, hdr.Name)
		}
		i++
	}
	if i != len(listed) {
		return "", fmt.Errorf("tar stream has %d entries, TOC %d", i, len(listed))
	}
	if _, err := io.Copy(h, zr); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func clean(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}
