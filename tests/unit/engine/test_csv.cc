// The RFC 4180 CSV reader (src/data/csv.h): quoting, line ends, and the errors it must give.
#include <gtest/gtest.h>

#include "steer/error.h"
#include "data/csv.h"

namespace steer {
namespace {

// Runs `fn`, expects a steer::Error, returns its message.
template <class Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected steer::Error";
  return "";
}

TEST(Csv, PlainRowsAndHeader) {
  CsvTable t = parse_csv("a,b,c\n1,2,3\n4,5,6\n", "x.csv");
  ASSERT_EQ(t.header, (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[1].fields, (std::vector<std::string>{"4", "5", "6"}));
  EXPECT_EQ(t.rows[1].row, 2u);
  EXPECT_EQ(t.rows[1].line, 3u);
  EXPECT_EQ(t.column("b"), 1);
  EXPECT_EQ(t.column("B"), -1);
  EXPECT_EQ(t.header_list(), "[a, b, c]");
}

TEST(Csv, QuotedCommasQuotesAndNewlines) {
  const std::string text =
      "goal,target\r\n"
      "\"Say \"\"hi\"\", then, leave\",\"two\r\nlines\"\r\n"
      "plain,\"\"\r\n"
      "last,\"a\nb\nc\"";  // no final line end
  CsvTable t = parse_csv(text, "x.csv");
  ASSERT_EQ(t.rows.size(), 3u);
  EXPECT_EQ(t.rows[0].fields[0], "Say \"hi\", then, leave");
  EXPECT_EQ(t.rows[0].fields[1], "two\r\nlines");  // line breaks inside quotes are kept
  EXPECT_EQ(t.rows[1].fields[1], "");
  EXPECT_EQ(t.rows[1].line, 4u);  // the quoted CRLF took one line
  EXPECT_EQ(t.rows[2].fields[1], "a\nb\nc");
  EXPECT_EQ(t.rows[2].line, 5u);
}

TEST(Csv, BomEmptyLinesEmptyFieldsAndLoneCr) {
  CsvTable t = parse_csv(
      "\xEF\xBB\xBF"
      "a,b\r\r\n\n,x\r1,\n",
      "x.csv");
  EXPECT_EQ(t.header[0], "a");  // BOM dropped
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0].fields, (std::vector<std::string>{"", "x"}));
  EXPECT_EQ(t.rows[1].fields, (std::vector<std::string>{"1", ""}));
}

TEST(Csv, BareQuoteInsideUnquotedFieldIsKept) {
  CsvTable t = parse_csv("a,b\n5\" pipe,x\n", "x.csv");
  EXPECT_EQ(t.rows[0].fields[0], "5\" pipe");
}

TEST(Csv, UnterminatedQuoteNamesFileLineAndField) {
  std::string msg = error_of([] { parse_csv("a,b\n1,2\nx,\"never closed\n3,4\n", "bad.csv"); });
  EXPECT_NE(msg.find("bad.csv"), std::string::npos) << msg;
  EXPECT_NE(msg.find("line 3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("field 2 ('b')"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unterminated"), std::string::npos) << msg;
}

TEST(Csv, TextAfterClosingQuoteIsAnError) {
  std::string msg = error_of([] { parse_csv("a,b\n\"x\"y,2\n", "bad.csv"); });
  EXPECT_NE(msg.find("bad.csv: line 2, field 1 ('a')"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'y'"), std::string::npos) << msg;
}

TEST(Csv, WrongFieldCountNamesRowAndLine) {
  std::string msg = error_of([] { parse_csv("a,b,c\n1,2,3\n\"q\nq\",5\n", "bad.csv"); });
  EXPECT_NE(msg.find("bad.csv: row 2 (line 3): 2 fields"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[a, b, c] has 3"), std::string::npos) << msg;
}

TEST(Csv, EmptyFileIsAnError) {
  std::string msg = error_of([] { parse_csv("", "empty.csv"); });
  EXPECT_NE(msg.find("empty.csv: empty CSV"), std::string::npos) << msg;
  msg = error_of([] { parse_csv("\n\r\n", "blank.csv"); });
  EXPECT_NE(msg.find("blank.csv"), std::string::npos) << msg;
}

}  // namespace
}  // namespace steer
